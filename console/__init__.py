"""The training console: the operator's view of a tenant (journal as a sequence diagram,
deliveries, faults and switches, test clock, token debugger), served as its own process behind
the gateway at ``/console/``. It talks to the platforms only over HTTP through the gateway,
like a real portal would."""
