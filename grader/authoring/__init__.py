"""What an instructor builds from a solution notebook: the handout (``build``, ``handout``), its
self-checks (``selfcheck``, ``selfcheck_record``, and ``selfcheck_runtime``, the engine copied into
the handout), and ``validation`` (the reference earns full marks, the stub nothing)."""
