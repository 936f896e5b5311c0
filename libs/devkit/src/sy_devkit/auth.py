"""The admin token every test suite uses: services accept it as the bootstrap admin token."""

from __future__ import annotations

import hashlib

TEST_ADMIN_TOKEN = "sy-test-bootstrap-admin-token"
TEST_ADMIN_SHA256 = hashlib.sha256(TEST_ADMIN_TOKEN.encode()).hexdigest()
ADMIN_HEADERS = {"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}
