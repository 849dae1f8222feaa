from sigver.cli import main

raise SystemExit(main())
