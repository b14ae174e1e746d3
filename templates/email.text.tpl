The check switch state at {{ _time }} with the output:
{{ check.output }}

Node:       {{ node.name }} ({{ node.addr }})
Check:      {{ check.name }}
State:      {{ check.old_state }} -> {{ check.state }}
Handler:    {{ handler.name }}
