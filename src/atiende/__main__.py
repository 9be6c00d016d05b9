from atiende.cli import main

raise SystemExit(main())
