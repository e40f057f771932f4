package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jobplane/jobplane/pkg/pagetoken"
	"github.com/jobplane/jobplane/pkg/store"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const errorDomain = "jobplane.dev"

// validationError is a caller's mistake in named fields.
type validationError struct {
	violations []*errdetails.BadRequest_FieldViolation
}

func (e *validationError) Error() string {
	if len(e.violations) == 1 {
		return fmt.Sprintf("invalid %s: %s", e.violations[0].Field, e.violations[0].Description)
	}
	return fmt.Sprintf("invalid request: %d problems, first: %s: %s", len(e.violations), e.violations[0].Field, e.violations[0].Description)
}

func (e *validationError) add(field, format string, args ...any) {
	e.violations = append(e.violations, &errdetails.BadRequest_FieldViolation{Field: field, Description: fmt.Sprintf(format, args...)})
}

func (e *validationError) errOrNil() error {
	if len(e.violations) == 0 {
		return nil
	}
	return e
}

func invalid(field, format string, args ...any) error {
	v := &validationError{}
	v.add(field, format, args...)
	return v
}

// notFoundError names the missing resource.
type notFoundError struct {
	reason, resource, id string
}

func (e *notFoundError) Error() string { return fmt.Sprintf("%s %s not found", e.resource, e.id) }

// toStatus converts an error to a gRPC status: this happens once, here, for
// every JobService call. Unexpected errors are logged and hidden.
func toStatus(log *slog.Logger, method string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	var ve *validationError
	var nf *notFoundError
	switch {
	case errors.As(err, &ve):
		st, _ := status.New(codes.InvalidArgument, ve.Error()).WithDetails(&errdetails.BadRequest{FieldViolations: ve.violations})
		return st.Err()
	case errors.As(err, &nf):
		st, _ := status.New(codes.NotFound, nf.Error()).WithDetails(&errdetails.ErrorInfo{
			Reason: nf.reason, Domain: errorDomain, Metadata: map[string]string{"id": nf.id},
		})
		return st.Err()
	case errors.Is(err, store.ErrRequestIDConflict):
		st, _ := status.New(codes.AlreadyExists, "request_id was already used for a different request").WithDetails(&errdetails.ErrorInfo{
			Reason: "REQUEST_ID_CONFLICT", Domain: errorDomain,
		})
		return st.Err()
	case errors.Is(err, pagetoken.ErrInvalid):
		st, _ := status.New(codes.InvalidArgument, "invalid page_token: use the next_page_token of a previous response with the same filter").
			WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "page_token", Description: "malformed or from another query"}}})
		return st.Err()
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "request cancelled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	case mongo.IsNetworkError(err) || mongo.IsTimeout(err) || errors.Is(err, errUnavailable):
		log.Warn("dependency unavailable", "method", method, "err", err)
		st, _ := status.New(codes.Unavailable, "storage temporarily unavailable, retry").WithDetails(&errdetails.ErrorInfo{Reason: "UNAVAILABLE", Domain: errorDomain})
		return st.Err()
	default:
		log.Error("internal error", "method", method, "err", err)
		return status.Error(codes.Internal, "internal error")
	}
}

var errUnavailable = errors.New("unavailable")

func errorUnaryInterceptor(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		resp, err := h(ctx, req)
		return resp, toStatus(log, info.FullMethod, err)
	}
}

func errorStreamInterceptor(log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		return toStatus(log, info.FullMethod, h(srv, ss))
	}
}
