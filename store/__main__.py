from store.app import main

raise SystemExit(main())
