module github.com/surge-mq/surge/gateway

go 1.26.0

require (
	github.com/hashicorp/golang-lru/v2 v2.0.7
	golang.org/x/time v0.16.0
)

replace (
	github.com/surge-mq/surge/mq => ../mq
	github.com/surge-mq/surge/services => ../services
)
