"""Fuzzing for topodsl: generators of hostile input and a judge of the promise in
``docs/security.md`` (a result or a diagnostic, exit code 0/1/2, within 30 s, never a
traceback). Run ``python -m fuzz --minutes 60``; see ``fuzz/corpus/README.md`` for the seeds."""
