module forge-workflows.local/cluster/pause

go 1.24
