"""The staff console (`/console`): the CPO's pages over the services the staff API calls."""
