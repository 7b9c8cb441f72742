"""``python -m cortex``: the same command line as ``cortex``."""
from .cli import main

if __name__ == "__main__":
    main()
