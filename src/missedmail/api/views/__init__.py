"""The API's handlers, one module per resource. They parse, call, and shape the response."""
