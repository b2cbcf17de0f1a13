"""`python -m bot.orchestrator`: run the trading loop until SIGTERM."""

import sys

from bot.orchestrator.app import main

sys.exit(main())
