"""`python -m rapport_session [serve|migrate]`."""

from rapport_common.service import main
from rapport_session.app import SPEC

if __name__ == "__main__":
    main(SPEC)
