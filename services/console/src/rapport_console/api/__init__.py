"""HTTP routes of the console: pages, demo sign-in, the same-origin API proxy and the operators' summary."""
