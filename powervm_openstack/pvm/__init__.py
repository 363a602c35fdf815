"""PowerVM access on top of pypowervm: connection, host discovery, VIF events. No OpenStack here."""
