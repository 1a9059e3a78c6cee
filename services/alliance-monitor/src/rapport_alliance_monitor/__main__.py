"""`python -m rapport_alliance_monitor [serve|migrate]`."""

from rapport_alliance_monitor.app import SPEC
from rapport_common.service import main

if __name__ == "__main__":
    main(SPEC)
