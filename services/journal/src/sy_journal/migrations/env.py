from sy_journal.models import Base
from sy_platform.migrations import run_env

run_env(Base.metadata)
