Check {{ check.name }} switched to {{ check.state }} state on {{ node.name }}
