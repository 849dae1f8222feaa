from .cli import main  # relative: ``python -m sigver`` is the command line

raise SystemExit(main())
