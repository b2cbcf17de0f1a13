"""Flash loans. Each lender is one adapter behind the `FlashLoan` interface; simulated is the default."""
