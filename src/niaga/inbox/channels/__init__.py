"""One module per channel kind, each registering its adapter (see `niaga.inbox.adapters`)."""
