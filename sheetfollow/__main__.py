"""`python -m sheetfollow`: the same as the sheetfollow command."""

from __future__ import annotations

from sheetfollow.cli import main

if __name__ == "__main__":
    main()
