"""What runs beside the state: jobs, the event feed, fault injection, sessions, request counts."""
