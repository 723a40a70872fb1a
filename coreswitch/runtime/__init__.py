"""The call runtime: flows run on call sessions (virtual clock in tests, real in service)."""
