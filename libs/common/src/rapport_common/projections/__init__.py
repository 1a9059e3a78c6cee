"""Views a service keeps of facts another service owns, written once for every service that keeps them."""
