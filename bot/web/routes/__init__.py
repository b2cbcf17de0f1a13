"""The API's routes, one module per concern: health, data, control plane, control panel."""
