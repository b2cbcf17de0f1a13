"""Trading venues. Each venue is one adapter behind the `Venue` interface; simulated is the default."""
