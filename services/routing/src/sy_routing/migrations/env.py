from sy_platform.migrations import run_env
from sy_routing.models import Base

run_env(Base.metadata)
