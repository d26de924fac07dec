"""The backend's routers, one per resource: generations, jobs, the committed wiki."""
