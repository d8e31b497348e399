from netdsl.cli import main

raise SystemExit(main())
