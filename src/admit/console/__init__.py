"""The super-admin console at /console/: the approval queue, users, remote servers, the
audit log and a dashboard. Server-rendered pages; every change goes through a flow."""
