"""The data subject's own pages (`/portal`): thin handlers over the API's services."""
