"""Instance lifecycle: every restored instance is deleted a keep window after its restore completes (reminder
first, extendable), or earlier on request; durable and resumable like the restore stages. Pure: the I/O is
behind the ports."""
