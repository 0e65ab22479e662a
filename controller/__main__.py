from controller.app import main

raise SystemExit(main())
