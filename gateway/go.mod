module github.com/surge-mq/surge/gateway

go 1.26
