from apiserver.app import main

raise SystemExit(main())
