"""`python -m bench ...`: the same command line as `bench ...`."""

from bench.cli import main

if __name__ == "__main__":
    main()
