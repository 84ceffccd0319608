"""The query layer (pure, no I/O): what a parsed query restricts, reads and needs from each chunk."""
