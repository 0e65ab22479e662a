from kubelet.app import main

raise SystemExit(main())
