from emodubber.cli import main

raise SystemExit(main())
