"""The check-in flow as a pure state machine, and the app shell that wires it up."""
