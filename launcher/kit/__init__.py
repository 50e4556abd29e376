"""The test kit's commands: ``vnsandbox wait``, ``tenant``, ``reset``, ``clock``, ``journal``,
``deliveries``, ``trigger`` and ``scenario``, one module per group. Each talks to a running
sandbox over HTTP (``--url`` or ``VNSB_URL``) with the tenant's credentials (flags or the
``VNSB_*`` variables ``vnsandbox tenant create --env`` prints).

Exit codes, the same for every command: 0 done, 1 a check failed (a wait timed out, a
verification did not hold, a replay differed), 2 bad input (a usage error, an unreachable or
invalid sandbox URL, a refused request), each with a one-line reason on stderr.
"""
