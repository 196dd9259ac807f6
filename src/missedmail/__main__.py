from missedmail.cli import main

raise SystemExit(main())
