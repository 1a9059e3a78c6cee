"""`python -m rapport_consent [serve|migrate]`."""

from rapport_common.service import main
from rapport_consent.app import SPEC

if __name__ == "__main__":
    main(SPEC)
