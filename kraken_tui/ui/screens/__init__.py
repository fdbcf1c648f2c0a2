"""Console screens: the dashboard, the journal, help and the confirmation dialogs."""
