package quality

import "fmt"

func fmtList(v any) string {
	l, _ := v.([]any)
	return fmt.Sprint(l)
}
