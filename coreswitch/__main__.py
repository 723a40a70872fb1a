import sys

from coreswitch.cli import main

sys.exit(main())
