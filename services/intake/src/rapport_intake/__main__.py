"""`python -m rapport_intake [serve|migrate]`."""

from rapport_common.service import main
from rapport_intake.app import SPEC

if __name__ == "__main__":
    main(SPEC)
