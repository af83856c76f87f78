from compiler.cli.app import main

raise SystemExit(main())
