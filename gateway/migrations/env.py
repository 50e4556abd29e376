from vnsandbox.migrations import run_env

run_env()
