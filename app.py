"""Start the askdocs chat page: `python app.py [--host H] [--port N] [--index DIR]`."""

import sys

from askdocs.cli import main

if __name__ == "__main__":
    main(["ui", *sys.argv[1:]])
